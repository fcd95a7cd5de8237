"""hosts/github"""
