"""Static leaderboards: boards of submitted results files, and the site built from them."""
