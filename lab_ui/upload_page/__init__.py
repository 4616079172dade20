"""The Upload page's parts (app_pages/upload.py): each upload preprocessed once and kept as thumbnails
(uploads), the drawing canvas (sketch), the tutorial's pipeline exactly as written beside the lab's
(tutorial_view).

The last photo and its memo (Photo, Processed, UploadResult) are in lab_ui/state.py beside their keys: persist
restores them and Inside softmax reads them, and neither may import this package.
"""
