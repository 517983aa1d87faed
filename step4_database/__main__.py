"""`python -m step4_database` serves the app like the article: uvicorn.run(..., reload=True)."""

import os

import uvicorn

if __name__ == "__main__":
    uvicorn.run(
        "step4_database.app:app",
        host="127.0.0.1",
        port=int(os.environ.get("PORT", "8000")),
        reload=True,
    )
