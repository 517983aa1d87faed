// Every distinct colour a listing's text is drawn in (its tokens, line numbers and title), with
// the backgrounds under it (from the text up to the first opaque one), on a highlighted line
// (.hll) or not: in every listing, collapsed blocks and unselected tabs too (computed styles
// exist for what is not drawn).
() => {
  const alpha = (colour) => {
    const parts = colour.match(/[\d.]+/g).map(Number);
    return parts.length > 3 ? parts[3] : 1;
  };
  const found = new Map();
  for (const token of document.querySelectorAll(".highlight span[class]:not(.hll)")) {
    if (!token.textContent.trim() || token.querySelector("span")) {
      continue;
    }
    const backgrounds = [];
    for (let element = token; element && !backgrounds.some((c) => alpha(c) === 1); ) {
      const background = getComputedStyle(element).backgroundColor;
      if (alpha(background) > 0) {
        backgrounds.push(background);
      }
      element = element.parentElement;
    }
    const colour = getComputedStyle(token).color;
    const highlighted = token.closest(".hll") !== null;
    const key = [token.className, colour, highlighted, ...backgrounds].join("|");
    if (!found.has(key)) {
      const text = token.textContent.trim().slice(0, 40);
      found.set(key, { token: token.className, colour, backgrounds, highlighted, text });
    }
  }
  return [...found.values()];
}
