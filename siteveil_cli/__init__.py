"""The customer CLI: `siteveil upload PATH… [--batch] [--wait] [--out DIR]`."""
