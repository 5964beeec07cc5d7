// The mapping page asks for the plant's time zone once: preselect the browser's, when the list
// has it (UTC stays selected, visibly, otherwise). The person can still change it before import.
(function () {
  "use strict";
  var select = document.getElementById("id_time_zone");
  if (!select || !window.Intl) { return; }
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  for (var i = 0; i < select.options.length; i++) {
    if (select.options[i].value === zone) { select.value = zone; return; }
  }
})();
