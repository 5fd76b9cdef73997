"""What people read: terminal tables, progress, HTML pages, the kill matrix, Stryker JSON."""
