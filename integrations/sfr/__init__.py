"""The Social Fund's (СФР) federal register of beneficiaries (ФРЛ): DBF files C_REGO/C_REGL and
the SOAP delta service FrlChangesService. See docs/sfr.md."""
