"""Tests of the model package (a package so pytest does not name them model.tests.*)."""
