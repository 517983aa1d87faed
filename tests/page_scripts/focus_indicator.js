// The focused element and how its focus is drawn: its outline and box shadow, and the
// backgrounds under it (nearest first, up to the first opaque one) that the ring must stand out on.
() => {
  const focused = document.activeElement;
  const style = getComputedStyle(focused);
  const alpha = (colour) => {
    const parts = colour.match(/[\d.]+/g).map(Number);
    return parts.length > 3 ? parts[3] : 1;
  };
  const backgrounds = [];
  for (let element = focused.parentElement; element; element = element.parentElement) {
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
    boxShadow: style.boxShadow,
    backgrounds,
  };
}
