(function () {
  "use strict";
  // Sorting: a header click puts the best first, the next click reverses; empty cells stay last.
  function cellValue(row, index, numeric) {
    var cell = row.cells[index];
    if (!cell) { return null; }
    var raw = cell.getAttribute("data-value");
    if (numeric) {
      if (raw === null || raw === "") { return null; }
      var number = Number(raw);
      return isNaN(number) ? null : number;
    }
    if (raw === "") { return null; }
    return (raw === null ? cell.textContent : raw).toLowerCase();
  }
  function sortTable(table, header) {
    var index = header.cellIndex;
    var kind = header.getAttribute("data-sort");
    var bestFirst = kind === "desc" ? "descending" : "ascending";
    var current = header.getAttribute("aria-sort");
    var next = current !== bestFirst ? bestFirst : (bestFirst === "ascending" ? "descending" : "ascending");
    var numeric = kind !== "text";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, index, numeric);
      var y = cellValue(b, index, numeric);
      if (x === null || y === null) { return x === y ? 0 : (x === null ? 1 : -1); }
      var order = x < y ? -1 : (x > y ? 1 : 0);
      return next === "ascending" ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell) { cell.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", next);
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.querySelectorAll("th[data-sort]"), function (header) {
      var button = header.querySelector("button");
      if (button) {
        button.addEventListener("click", function () { sortTable(table, header); });
      }
    });
  });
  // Filters: hidden in the page (so without JavaScript the full table shows), shown here.
  function rowMatches(row, form) {
    var weights = form.elements.weights.value;
    var setting = form.elements.setting.value;
    var org = form.elements.org.value;
    var params = form.elements.params.value;
    var refs = form.elements.references;
    if (refs && !refs.checked && row.getAttribute("data-kind") === "reference") { return false; }
    if (weights && row.getAttribute("data-weights") !== weights) { return false; }
    if (setting && (row.getAttribute("data-setting") || "").split(" ").indexOf(setting) < 0) { return false; }
    if (org && row.getAttribute("data-org") !== org) { return false; }
    if (params) {
      var size = row.getAttribute("data-params");
      if (!size || Number(size) > Number(params)) { return false; }
    }
    return true;
  }
  function applyFilters(form, table) {
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var shown = 0;
    rows.forEach(function (row) {
      var match = rowMatches(row, form);
      row.hidden = !match;
      if (match) { shown += 1; }
    });
    var count = form.querySelector("output.count");
    if (count) {
      count.textContent = count.getAttribute("data-template")
        .replace("{shown}", String(shown)).replace("{total}", String(rows.length));
    }
  }
  Array.prototype.forEach.call(document.querySelectorAll("form.filters"), function (form) {
    var table = document.getElementById(form.getAttribute("data-for"));
    if (!table) { return; }
    form.hidden = false;
    form.addEventListener("change", function () { applyFilters(form, table); });
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    applyFilters(form, table);
  });
})();
