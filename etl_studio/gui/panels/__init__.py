"""The dockable panels of the main window: mapping, preview, rules, schedule, history, log."""
