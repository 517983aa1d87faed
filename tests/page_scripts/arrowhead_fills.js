// Every marker (arrowhead) in the page's diagrams, with its computed fill.
() => [...document.querySelectorAll("div.mermaid")]
  .flatMap((holder) => [...holder.shadowRoot.querySelectorAll("marker path")])
  .map((path) => getComputedStyle(path).fill)
