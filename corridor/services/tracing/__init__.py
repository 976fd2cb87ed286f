"""Family tracing: enquiries, cases, their matches, views and retention."""
