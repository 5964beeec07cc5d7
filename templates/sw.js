{% load static %}// The site's one service worker, served at /sw.js so that its scope is the whole site
// (maintenance/views/push.py). Keep it minimal: each feature lives in its own file, pulled in here.
importScripts("{% static 'js/sw_push.js' %}");
importScripts("{% static 'js/sw_offline.js' %}");
