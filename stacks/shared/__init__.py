"""What the labs' config models and builds are made of: the config loader and its errors, the
shared config types and models of each platform, and the catalogue of labs."""
