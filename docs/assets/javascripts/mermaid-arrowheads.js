// mkdocs-material initialises mermaid with its own themeCSS, which colours the arrowheads of
// flowcharts but names the sequence-diagram marker `#arrowhead`, an id mermaid 11 no longer
// uses (it prefixes ids with the diagram's), so in the dark scheme the arrowheads stay
// mermaid's default near-black. Append a rule for every marker to that themeCSS, in the
// colour material already gives the lines. Loaded after the vendored mermaid (mkdocs.yml).
(function () {
  "use strict";
  const initialize = mermaid.initialize.bind(mermaid);
  const markers =
    "marker path, marker polygon, marker circle" +
    "{fill: var(--md-mermaid-edge-color) !important;" +
    " stroke: var(--md-mermaid-edge-color) !important}";
  mermaid.initialize = function (config) {
    const themeCSS = ((config && config.themeCSS) || "") + markers;
    return initialize(Object.assign({}, config, { themeCSS: themeCSS }));
  };
})();
