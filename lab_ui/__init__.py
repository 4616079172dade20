"""The Streamlit layer: what the pages in app_pages/ draw, over fmnist_lib (which never imports Streamlit).

The rule: a module at this level serves several pages or the app as a whole; what only one page uses lives in
that page's sub-package, named after its script in app_pages/ (train_page, upload_page, browse_page,
softmax_page, lesson_page). Imports go one way: app_pages/<page>.py -> lab_ui/<page>_page/ -> this level ->
fmnist_lib. A module here never imports a page package, and a page package never imports another's
(tests/test_architecture.py).

Here: every session-state key and widget key, and the session's objects (state); what a server makes once
and every session shares (resources; warmup fills it when the server starts); the frame every page runs in
(layout); a run's job in the worker pool, which the frame pauses and syncs on every page (training); the
session's runs on disk (persist, session_cookie); user text as plain text (text); the link box (share);
display names (labels); the Altair charts several pages draw (charts) and the pixel helpers (pictures).
"""
