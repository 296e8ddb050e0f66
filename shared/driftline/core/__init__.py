"""Pure numerics: no boto3, no Powertools, no environment reads."""
