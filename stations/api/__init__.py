"""The stations part of the REST API: views and serializers."""
