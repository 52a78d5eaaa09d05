(function () {
  "use strict";
  function cellValue(row, index, numeric) {
    var cell = row.cells[index];
    if (!cell) { return null; }
    var raw = cell.getAttribute("data-value");
    if (numeric) {
      if (raw === null || raw === "") { return null; }
      var number = Number(raw);
      return isNaN(number) ? null : number;
    }
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
})();
