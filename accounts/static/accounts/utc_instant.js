// Beside a date and a time typed on a business's clock (accounts/admin_time.py), the UTC
// instant they mean, as they change. The zone's offset at an instant comes from the
// browser's own zone data (Intl), so no table of zones is shipped.
"use strict";
(function () {
  function wallClockAsUtc(instant, zone) {
    const parts = {};
    new Intl.DateTimeFormat("en-US", {
      timeZone: zone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric",
      hour: "numeric", minute: "numeric", second: "numeric",
    }).formatToParts(new Date(instant)).forEach((part) => { parts[part.type] = Number(part.value); });
    return Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
  }

  function show(output) {
    const date = document.querySelector(`input[name="${output.dataset.for}_0"]`);
    const time = document.querySelector(`input[name="${output.dataset.for}_1"]`);
    const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date.value);
    const clock = /^(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(time.value);
    if (!day || !clock) { output.textContent = ""; return; }
    const wall = Date.UTC(day[1], day[2] - 1, day[3], clock[1], clock[2], clock[3] || 0);
    // The offset at a first guess, then at the instant it gives (right across DST).
    let instant = wall - (wallClockAsUtc(wall, output.dataset.zone) - wall);
    instant = wall - (wallClockAsUtc(instant, output.dataset.zone) - instant);
    output.textContent = "= " + new Date(instant).toISOString().slice(0, 19).replace("T", " ") + " UTC";
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll(".utc-instant").forEach((output) => {
      for (const suffix of ["_0", "_1"]) {
        document.querySelector(`input[name="${output.dataset.for}${suffix}"]`)
          .addEventListener("input", () => show(output));
      }
      show(output);
    });
  });
})();
