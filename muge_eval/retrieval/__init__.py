"""Text-image retrieval: data layouts, submissions, exact top-k ranking, scoring."""
