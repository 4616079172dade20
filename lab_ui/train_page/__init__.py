"""The Train page's parts (app_pages/train.py): the settings' widgets and the TrainConfig they make (controls),
the run panel drawn live from the job (live), a diverged run's last epoch (divergence), the session's runs
and their downloads (session_runs), the whole session in one file (session_file), loading a checkpoint
(checkpoint_upload).

The job itself is lab_ui/training.py, at the top: every page's frame pauses and syncs it. divergence's loss
chart stays here rather than in lab_ui/charts.py: only this page draws it, from the guard's DivergedEpoch.
"""
