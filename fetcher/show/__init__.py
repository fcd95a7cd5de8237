"""What fetcher shows a person: a record, the status, history and trending, the progress bar."""
