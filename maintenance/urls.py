"""Browser pages of maintenance: the alert inbox and the work orders. Their URL names stay in the
`predictions` namespace they had before the app existed (`predictions:alerts`,
`predictions:work-order-detail`): pdm_saas/urls_tenant.py serves them there beside predictions'
pages, so no link, template or bookmark changed."""

from django.urls import path

from maintenance import offline_urls, photo_urls
from maintenance.views import alarm_history, alerts, push, work_orders

urlpatterns = [
    path("alerts/", alerts.alert_inbox, name="alerts"),
    path("alerts/history/", alarm_history.alarm_history, name="alarm-history"),
    path("alerts/history/export/", alarm_history.alarm_history_export, name="alarm-history-export"),
    path("alerts/<int:pk>/acknowledge/", alerts.alert_acknowledge_page, name="alert-acknowledge"),
    path("alerts/<int:pk>/resolve/", alerts.alert_resolve_page, name="alert-resolve"),
    path("alerts/<int:pk>/work-order/", alerts.alert_work_order_page, name="alert-work-order"),
    path("work-orders/", work_orders.work_order_board, name="work-orders"),
    path("work-orders/new/", work_orders.work_order_new, name="work-order-new"),
    path("work-orders/<int:pk>/", work_orders.work_order_detail, name="work-order-detail"),
    path("notifications/", push.notifications_page, name="notifications"),
    path("notifications/push/subscribe/", push.push_subscribe, name="push-subscribe"),
    path("notifications/push/unsubscribe/", push.push_unsubscribe, name="push-unsubscribe"),
    path("notifications/devices/<int:pk>/remove/", push.push_device_remove, name="push-device-remove"),
]
urlpatterns += photo_urls.urlpatterns  # photos on work orders and alerts
urlpatterns += offline_urls.urlpatterns  # offline work: the page, its bundle and sync
