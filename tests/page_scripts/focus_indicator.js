// The focused element and how its focus is drawn: its outline, and the backgrounds the ring is
// drawn on (nearest first, up to the first opaque one): the element's own when the ring is drawn
// inside it (a negative outline-offset), else those around it.
() => {
  const focused = document.activeElement;
  const style = getComputedStyle(focused);
  const alpha = (colour) => {
    const parts = colour.match(/[\d.]+/g).map(Number);
    return parts.length > 3 ? parts[3] : 1;
  };
  const backgrounds = [];
  const inside = parseFloat(style.outlineOffset) < 0;
  let element = inside ? focused : focused.parentElement;
  for (; element; element = element.parentElement) {
    const background = getComputedStyle(element).backgroundColor;
    if (alpha(background) > 0) {
      backgrounds.push(background);
      if (alpha(background) === 1) {
        break;
      }
    }
  }
  return {
    tag: focused.tagName.toLowerCase(),
    name: focused.getAttribute("aria-label") || focused.textContent.trim(),
    focusVisible: focused.matches(":focus-visible"),
    outlineStyle: style.outlineStyle,
    outlineWidth: parseFloat(style.outlineWidth),
    outlineColour: style.outlineColor,
    backgrounds,
  };
}
