// The page as a whole must not scroll sideways either (a wide table or a long word would).
document.documentElement.scrollWidth > document.documentElement.clientWidth
