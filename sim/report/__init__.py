"""What people read and see: figures, the phase diagram, scenario briefs, the ODD tables, the app.

Reads results and analyses from the layers below; never the other way round.
"""
