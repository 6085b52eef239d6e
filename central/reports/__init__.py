"""Records and reports: inspection records with sign-off, fault records, the recordings archive and
the annual operations report (HTML, PDF, CSV; zh-CN and en)."""
