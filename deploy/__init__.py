"""Running the app as several replicas behind nginx (see README, "Deploy on a classroom server")."""
