"""ФГИС МДЛП (drug marking): documents of the official XML schemes, their check against the official XSD,
the REST client and the emulator (docs/mdlp.md)."""
