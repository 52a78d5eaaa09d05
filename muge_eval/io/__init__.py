"""Reading and writing the files users hand us and the files we write for them."""
