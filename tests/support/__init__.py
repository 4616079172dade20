"""Helpers shared by the tests and bench/, imported one way: `from tests.support.images import ...`, or a whole
module (`from tests.support import server as web`, as the browser tests do).

- images: every generated image file (upload cases, garment photos, the benchmark's renders) and the encoders;
- server: `streamlit run` on a free port, and the Chromium/Playwright actions of the browser tests;
- apptest: opening pages and training in Streamlit's AppTest;
- checkpoints: hostile checkpoint payloads;
- data: tiny synthetic data for unit tests;
- links: bad experiment links and the note each gets;
- streamlit_internals: the one seam to Streamlit's internals (tests/test_streamlit_internals.py checks it).
"""
