"""Qt item models over the project model, previews, run history and logs (model/view, no widgets)."""
