"""The files and console sections a run leaves."""
