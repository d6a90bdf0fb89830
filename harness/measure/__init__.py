"""The harness's measurements: histograms, delivery accounting, resilience, SLOs."""
