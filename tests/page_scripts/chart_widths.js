// Every chart in the article (img.chart, drawn by bench/charts.py): the path it was loaded
// from and its drawn width in CSS px. Its text sizes are in the SVG file, in viewBox units.
() => [...document.querySelectorAll("article img.chart")]
  .map((image) => ({
    path: new URL(image.src).pathname,
    width: image.getBoundingClientRect().width,
  }))
