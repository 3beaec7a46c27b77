(function () {
  'use strict';
  // Filters of the events table. A filter can be preset from the address: report.html#type=C&iface=eth0
  // (the keys are the selects' data-filter names). Rows are compared by their data-* attributes only.
  var table = document.getElementById('events');
  if (!table) {
    return;
  }
  var rows = Array.prototype.slice.call(table.querySelectorAll('tbody tr.ev'));
  var selects = Array.prototype.slice.call(document.querySelectorAll('select[data-filter]'));
  var shown = document.getElementById('shown');
  function wanted() {
    var want = {};
    selects.forEach(function (s) {
      if (s.value !== '') {
        want[s.getAttribute('data-filter')] = s.value;
      }
    });
    return want;
  }
  function apply(fromUser) {
    var want = wanted();
    var keys = Object.keys(want);
    var count = 0;
    rows.forEach(function (r) {
      var match = keys.every(function (k) { return r.getAttribute('data-' + k) === want[k]; });
      r.hidden = !match;
      if (match) {
        count++;
      }
    });
    if (shown) {
      shown.textContent = String(count);
    }
    var state = keys.map(function (k) { return encodeURIComponent(k) + '=' + encodeURIComponent(want[k]); }).join('&');
    table.setAttribute('data-filtered', state);
    if (fromUser && window.history && window.history.replaceState) {
      try {
        window.history.replaceState(null, '', state === '' ? window.location.pathname : '#' + state);
      } catch (e) {
        // A page opened from a file may refuse; the filter works all the same.
      }
    }
  }
  var preset = new URLSearchParams(window.location.hash.replace(/^#/, ''));
  selects.forEach(function (s) {
    var value = preset.get(s.getAttribute('data-filter'));
    if (value !== null) {
      s.value = value;
    }
    s.addEventListener('change', function () { apply(true); });
  });
  apply(false);
}());
