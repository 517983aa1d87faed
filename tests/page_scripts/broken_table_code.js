// Code words in table cells broken over two lines (`step1_blockin` / `g/`): more than one box.
() => [...document.querySelectorAll("article table code")]
  .filter((code) => code.getClientRects().length > 1)
  .map((code) => code.textContent)
