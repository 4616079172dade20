"""The Inside softmax page's parts (app_pages/softmax.py): the image picker and the six steps (inside).

Its value bars stay in inside.py rather than lab_ui/charts.py: only this page draws them, one per step.
"""
