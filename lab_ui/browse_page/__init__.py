"""The Browse page's parts (app_pages/browse.py): test images with the model's verdict in a wrapping grid
(cards), the reliability diagram and temperature scaling (calibration).

The reliability diagram stays in calibration.py rather than lab_ui/charts.py: only this page draws it, from
fmnist_lib.analysis's Reliability, beside the verdicts that explain it. The default model's calibration is
made once per server in lab_ui/resources.py, like the other defaults.
"""
