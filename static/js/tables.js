// Names each table cell after its column (data-label), rows rendered later included: on a phone
// the stylesheet stacks a row's cells, each led by its label.
function labelRows(table) {
  const labels = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
  for (const row of table.tBodies[0]?.rows ?? []) {
    [...row.cells].forEach((cell, index) => {
      if (cell.colSpan === 1 && !cell.dataset.label) cell.dataset.label = labels[index] ?? "";
    });
  }
}

for (const table of document.querySelectorAll("table.table")) {
  labelRows(table);
  const body = table.tBodies[0];
  if (body) new MutationObserver(() => labelRows(table)).observe(body, { childList: true });
}
