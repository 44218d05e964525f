"""After shipping: drift tests, performance tracking, regression on model change, the portfolio store."""
