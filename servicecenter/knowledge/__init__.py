"""The knowledge base (Wissensdatenbank): schema, YAML import/export, lookup and search."""
