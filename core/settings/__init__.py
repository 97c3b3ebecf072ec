"""The admin's settings: the model, reading and writing ``appsettings.json``, and its secrets."""
