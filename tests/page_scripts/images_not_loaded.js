// Every image in the article that has not loaded (or failed to).
() => [...document.querySelectorAll("article img")]
  .filter((image) => !image.complete || image.naturalWidth === 0)
  .map((image) => image.getAttribute("src"))
