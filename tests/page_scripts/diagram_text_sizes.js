// For each rendered, visible diagram: the smallest text on screen, in px: the computed font
// size of each element holding text, times the svg's scale (drawn width over viewBox width).
() => [...document.querySelectorAll("div.mermaid")]
  .map((holder) => holder.shadowRoot && holder.shadowRoot.querySelector("svg"))
  .filter((svg) => svg && svg.getBoundingClientRect().width > 0)
  .map((svg) => {
    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    const sizes = [...svg.querySelectorAll("text, tspan, foreignObject *")]
      .filter((element) => [...element.childNodes].some(
        (node) => node.nodeType === 3 && node.textContent.trim()))
      .map((element) => parseFloat(getComputedStyle(element).fontSize) * scale);
    const words = [...svg.querySelectorAll("text, foreignObject")].map((e) => e.textContent);
    return { smallest: Math.min(...sizes), text: words.join(" ").slice(0, 80) };
  })
