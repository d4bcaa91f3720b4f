/* GrowthLoop: long tables (class gl-table, more than MIN_ROWS rows) get a search box and
   click-to-sort headers. Static and deterministic: the notebooks' outputs are unchanged, so
   nbval is unaffected; no library, no network. Numbers sort by value, understanding 1,234,
   12.3%, +0.5%, 3.4万 and 1.2亿; text sorts in Chinese order; empty cells sort last; a total row
   (合计) stays last. A long table is folded by Chapter.table to its first rows (gl-preview) and
   the whole table in a <details> (gl-more): the whole one gets the search box and sorting. */
(function () {
  "use strict";
  var MIN_ROWS = 10;

  function value(text) {
    var s = text.replace(/[,\s元+]/g, "").replace(/\u2212/g, "-");
    var scale = 1;
    if (/亿$/.test(s)) { scale = 1e8; s = s.slice(0, -1); }
    else if (/万$/.test(s)) { scale = 1e4; s = s.slice(0, -1); }
    if (/%$/.test(s)) { s = s.slice(0, -1); }
    if (/^-?\d+(\.\d+)?(e[-+]?\d+)?$/i.test(s)) { return parseFloat(s) * scale; }
    return null;
  }

  function isTotal(row) {
    var first = row.cells[0] ? row.cells[0].textContent.trim() : "";
    return /^(合计|总计)/.test(first) ? 1 : 0;
  }

  function enhance(table) {
    var body = table.tBodies[0];
    var head = table.tHead;
    // the first rows of a folded table (gl-preview) are a copy: the whole table below gets the tools
    if (!body || !head || body.rows.length <= MIN_ROWS || table.dataset.glEnhanced ||
        table.classList.contains("gl-preview")) { return; }
    table.dataset.glEnhanced = "1";
    var wrap = document.createElement("div");
    wrap.className = "gl-table-tools";
    var box = document.createElement("input");
    box.type = "search";
    box.placeholder = "搜索表格";
    box.setAttribute("aria-label", "搜索表格");
    var count = document.createElement("span");
    count.className = "gl-table-count";
    wrap.appendChild(box);
    wrap.appendChild(count);
    table.parentNode.insertBefore(wrap, table);
    var rows = Array.prototype.slice.call(body.rows);
    function show() {
      var q = box.value.trim().toLowerCase();
      var n = 0;
      rows.forEach(function (r) {
        var hit = !q || r.textContent.toLowerCase().indexOf(q) >= 0;
        r.hidden = !hit;
        if (hit) { n += 1; }
      });
      count.textContent = n + " / " + rows.length + " 行";
    }
    box.addEventListener("input", show);
    show();
    var cells = head.rows[head.rows.length - 1].cells;
    Array.prototype.forEach.call(cells, function (th, i) {
      th.classList.add("gl-sortable");
      th.title = "点击排序";
      th.addEventListener("click", function () {
        var dir = th.dataset.dir === "asc" ? -1 : 1;
        Array.prototype.forEach.call(cells, function (c) { delete c.dataset.dir; });
        th.dataset.dir = dir > 0 ? "asc" : "desc";
        var keyed = rows.map(function (r, k) {
          var t = r.cells[i] ? r.cells[i].textContent.trim() : "";
          return { row: r, text: t, num: value(t), k: k };
        });
        keyed.sort(function (a, b) {
          // a total row (合计 / 总计 in its first cell) stays last, whatever the order
          var ta = isTotal(a.row), tb = isTotal(b.row);
          if (ta || tb) { return (ta - tb) || a.k - b.k; }
          if (a.text === "" || b.text === "") { return (a.text === "") - (b.text === "") || a.k - b.k; }
          if (a.num !== null && b.num !== null) { return dir * (a.num - b.num) || a.k - b.k; }
          return dir * a.text.localeCompare(b.text, "zh") || a.k - b.k;
        });
        keyed.forEach(function (x) { body.appendChild(x.row); });
        rows = keyed.map(function (x) { return x.row; });
      });
    });
  }

  function run() {
    Array.prototype.forEach.call(document.querySelectorAll("table.gl-table"), enhance);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", run); }
  else { run(); }
})();
