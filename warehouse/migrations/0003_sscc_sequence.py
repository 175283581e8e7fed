from django.db import migrations


class Migration(migrations.Migration):
    """The serial references of our own SSCC numbers (warehouse/sscc.py)."""

    dependencies = [("warehouse", "0002_ledger_is_immutable")]

    operations = [
        migrations.RunSQL(
            "CREATE SEQUENCE warehouse_sscc_serial AS bigint MINVALUE 1 START 1",
            "DROP SEQUENCE warehouse_sscc_serial",
        ),
    ]
