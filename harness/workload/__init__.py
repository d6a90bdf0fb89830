"""What a run offers: channel templates, the publish schedule, traced events."""
