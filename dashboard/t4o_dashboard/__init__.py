"""T4O's Horizon plugin: the Backups panels of Project and the Backups-Admin panels of Admin."""
