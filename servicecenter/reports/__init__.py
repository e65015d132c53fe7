"""Quality handbook, feedback, figures from stored events, monthly report, retention."""
