"""The Lesson page's parts (app_pages/lesson.py): the steps, exercises with their checks and folded answers,
progress, the report and a teacher's upload (lesson_view). The checks themselves are fmnist_lib/lessons.py.
"""
